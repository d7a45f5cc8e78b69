package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ballast.bench.OpsBench;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class OpsBenchCommandTest {

    @Test void oneMibOnTheCpuGivesPositiveBandwidthAndOverheadRows() throws Exception {
        Run r = Run.of("bench", "ops", "--device", "cpu", "--mb", "1", "--quick", "--no-torch", "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode json = new ObjectMapper().readTree(r.out().lines().toList().getLast());
        assertEquals("cpu", json.get("device").asText());
        List<String> ops = new ArrayList<>();
        for (JsonNode row : json.get("rows")) {
            String op = row.get("op").asText();
            ops.add(op);
            assertEquals("fp32", row.get("dtype").asText());
            assertTrue(row.get("ballast").isNumber() && row.get("ballast").asDouble() > 0, row.toString());
            assertTrue(row.get("torch").isNull() && row.get("ratio").isNull(), row.toString());
            if (op.equals("tiny_add")) {
                assertEquals("us", row.get("unit").asText());
                assertEquals(1, row.get("n").asLong());
                assertTrue(row.get("of_copy") == null, row.toString());
            } else {
                assertEquals("GB/s", row.get("unit").asText());
                assertEquals((1 << 20) / 4, row.get("n").asLong());
                assertTrue(row.get("of_copy").asDouble() > 0, row.toString());
                assertTrue(row.get("torch_of_copy").isNull(), row.toString());
            }
        }
        assertEquals(List.of("copy", "copy_into", "add", "scale", "sum", "tiny_add"), ops);
        assertEquals(1.0, json.get("rows").get(0).get("of_copy").asDouble(), 1e-12);
        assertTrue(r.out().contains("% copy"), r.out());
        assertTrue(r.err().contains("tiny_add:") && r.err().contains("calls"), r.err());
    }

    @Test void badSizeIsAUsageErrorNamingTheAllowedRange() {
        for (String bad : List.of("0", "lots", "16385")) {
            Run r = Run.of("bench", "ops", "--device", "cpu", "--mb", bad, "--no-torch");
            assertEquals(2, r.exitCode(), bad + ": " + r.err());
            assertTrue(r.err().contains("Invalid --mb value '" + bad + "': allowed values are integers from 1 to 16384"),
                    r.err());
        }
    }

    @Test void unknownDeviceIsAUsageError() {
        Run r = Run.of("bench", "ops", "--device", "gpu");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("Invalid --device 'gpu': allowed values are cpu, cuda, auto"), r.err());
    }

    @Test void torchScriptIsValidPython() throws Exception {
        PythonSyntax.assertParses(OpsBench.SCRIPT);
    }

    @Test void benchListsTheNewCommands() {
        Run r = Run.of("bench");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("matmul") && r.err().contains("ops"), r.err());
    }
}
