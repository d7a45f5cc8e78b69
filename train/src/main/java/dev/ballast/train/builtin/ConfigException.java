package dev.ballast.train.builtin;

/**
 * A bad training configuration: {@link #key()} names the setting that was wrong (a {@link TrainConfig} key such as
 * {@code "optimizer"}), and the message says what was given and what is allowed.
 */
public final class ConfigException extends IllegalArgumentException {
    private final String key;

    public ConfigException(String key, String message) {
        super(message);
        this.key = key;
    }

    /** The offending key (camelCase, as in the JSON config file). */
    public String key() { return key; }
}
