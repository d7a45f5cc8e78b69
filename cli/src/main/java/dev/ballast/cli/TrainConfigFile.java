package dev.ballast.cli;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ballast.train.builtin.ConfigException;
import dev.ballast.train.builtin.TrainConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Reads a {@code ballast train --config FILE.json}: one JSON object whose keys are {@link TrainConfig#KEYS}
 * (camelCase; the flag spelling such as {@code "weight-decay"} is accepted too) and whose values are numbers,
 * strings or booleans, except {@code chain}, a list of link objects. Anything else (a missing or malformed file, an
 * unknown key, a list or object value elsewhere) is a
 * {@link ConfigException} naming the file, the key and what is allowed.
 */
final class TrainConfigFile {
    private TrainConfigFile() {}

    /** The settings of {@code file}, keyed by camelCase key, in file order. */
    static Map<String, Object> read(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new ConfigException("config", "config file " + file + " does not exist");
        } catch (JacksonException e) {
            throw new ConfigException("config", "config file " + file + " is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new ConfigException("config", "config file " + file + " could not be read: " + e.getMessage());
        }
        if (root == null || !root.isObject())
            throw new ConfigException("config", "config file " + file + " must hold one JSON object of settings, e.g. {\"task\": \"adding\", \"steps\": 500}");
        Map<String, Object> out = new LinkedHashMap<>();
        for (var it = root.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            String key = camel(e.getKey());
            if (!TrainConfig.KEYS.contains(key))
                throw new ConfigException(e.getKey(), "unknown key '" + e.getKey() + "' in " + file + "; allowed keys: "
                        + String.join(", ", TrainConfig.KEYS));
            JsonNode v = e.getValue();
            if (key.equals("chain") && v.isArray()) out.put(key, new ObjectMapper().convertValue(v, java.util.List.class));
            else if (v.isNumber()) out.put(key, v.numberValue());
            else if (v.isTextual()) out.put(key, v.textValue());
            else if (v.isBoolean()) out.put(key, v.booleanValue());
            else throw new ConfigException(key, key + " in " + file + " must be "
                        + (key.equals("chain") ? "a list of {\"op\": ...} objects" : "a number, a string or a boolean") + ", got " + v);
        }
        return out;
    }

    /** {@code weight-decay} to {@code weightDecay}; camelCase passes unchanged. */
    static String camel(String key) {
        StringBuilder sb = new StringBuilder();
        boolean up = false;
        for (char ch : key.toCharArray()) {
            if (ch == '-' || ch == '_') {
                up = true;
            } else {
                sb.append(up ? Character.toUpperCase(ch) : ch);
                up = false;
            }
        }
        return sb.toString();
    }

    /** {@code weightDecay} to {@code --weight-decay}. */
    static String flag(String key) {
        return "--" + key.replaceAll("([A-Z])", "-$1").toLowerCase(Locale.ROOT);
    }
}
