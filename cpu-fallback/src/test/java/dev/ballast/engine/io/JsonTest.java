package dev.ballast.engine.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The strict JSON reader and writer. */
class JsonTest {
    @Test
    void parsesAllValueKinds() {
        Map<String, Object> m = Json.parseObject(" {\"a\": [1, -2.5e3, true, false, null], \"s\": \"x\\n\\u00e9\\\"\", \"o\": {}} ");
        assertEquals(List.of(1L, -2500.0, true, false), ((List<?>) m.get("a")).subList(0, 4));
        assertEquals(null, ((List<?>) m.get("a")).get(4));
        assertEquals("x\né\"", m.get("s"));
        assertEquals(Map.of(), m.get("o"));
        assertEquals(List.copyOf(List.of("a", "s", "o")), List.copyOf(m.keySet()), "key order is kept");
    }

    @Test
    void writeThenParseRoundTrips() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("n", 3L);
        m.put("d", 0.1);
        m.put("neg", -0.0);
        m.put("big", 1.0e300);
        m.put("s", "tab\tquote\"back\\slash\u0001");
        m.put("l", List.of(1L, "two", List.of()));
        m.put("nested", Map.of("k", true));
        String text = Json.write(m);
        assertEquals(m, Json.parse(text));
        assertThrows(IllegalArgumentException.class, () -> Json.write(Map.of("x", Double.NaN)));
    }

    @Test
    void rejectsWhatRfc8259Rejects() {
        for (String bad : new String[]{"", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "tru", "\"\\x\"",
                "\"a\nb\"", "{\"a\":1}x", "{'a':1}", "{\"a\" 1}", "[1 2]", "{\"a\":1,\"a\":2}", "NaN", "\"\\u12\""}) {
            var e = assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
            assertTrue(e.getMessage().startsWith("JSON: ") && e.getMessage().contains("offset"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Json.parseObject("[1]"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[".repeat(10_000)));
    }
}
