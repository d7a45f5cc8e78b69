package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ballast.bench.BenchReport;
import dev.ballast.bench.MatmulBench;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MatmulBenchCommandTest {

    @Test void tinySizesOnTheCpuGivePositiveRowsAndSkipTf32() throws Exception {
        Run r = Run.of("bench", "matmul", "--device", "cpu", "--sizes", "16,33", "--dtypes", "fp32,tf32,bf16,fp16",
                "--quick", "--no-torch", "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode json = new ObjectMapper().readTree(r.out().lines().toList().getLast());
        assertEquals("cpu", json.get("device").asText());
        List<String> seen = new ArrayList<>();
        for (JsonNode row : json.get("rows")) {
            assertEquals("matmul", row.get("op").asText());
            assertEquals("TFLOP/s", row.get("unit").asText());
            assertTrue(row.get("ballast").isNumber() && row.get("ballast").asDouble() > 0, row.toString());
            assertTrue(row.get("torch").isNull() && row.get("ratio").isNull(), row.toString());
            seen.add(row.get("dtype").asText() + "/" + row.get("n").asInt());
        }
        assertEquals(List.of("fp32/16", "fp32/33", "bf16/16", "bf16/33", "fp16/16", "fp16/33"), seen);
        assertTrue(json.get("notes").toString().contains("tf32 skipped"), json.toString());
        assertTrue(r.out().contains("note: tf32 skipped"), r.out());
        assertTrue(r.err().contains("matmul bf16 n=33"), r.err());
    }

    @Test void badDtypeIsAUsageErrorNamingTheAllowedValues() {
        Run r = Run.of("bench", "matmul", "--device", "cpu", "--dtypes", "fp32,fp8", "--no-torch");
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains("Invalid --dtypes value 'fp8': allowed values are fp32, tf32, bf16, fp16"), r.err());
    }

    @Test void badSizesAreUsageErrorsNamingTheAllowedRange() {
        for (String bad : List.of("0", "big", "16385", "-4")) {
            Run r = Run.of("bench", "matmul", "--device", "cpu", "--sizes", "16," + bad, "--no-torch");
            assertEquals(2, r.exitCode(), bad + ": " + r.err());
            assertTrue(r.err().contains("Invalid --sizes value '" + bad + "': allowed values are integers from 1 to 16384"),
                    r.err());
        }
    }

    @Test void unknownDeviceIsAUsageError() {
        Run r = Run.of("bench", "matmul", "--device", "tpu");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("Invalid --device 'tpu': allowed values are cpu, cuda, auto"), r.err());
    }

    @Test void reportJsonAndTableCarryTorchFiguresAndRatios() throws Exception {
        var rep = new BenchReport("cuda", "H100", List.of(
                new BenchReport.Row("matmul", "tf32", 4096, 300.0, 400.0, "TFLOP/s"),
                new BenchReport.Row("matmul", "fp16", 4096, 500.0, null, "TFLOP/s")), List.of("torch 2.5"));
        JsonNode json = new ObjectMapper().readTree(rep.toJson());
        JsonNode first = json.get("rows").get(0);
        assertEquals(0.75, first.get("ratio").asDouble(), 1e-12);
        assertEquals(400.0, first.get("torch").asDouble());
        assertTrue(json.get("rows").get(1).get("ratio").isNull());
        assertTrue(first.get("of_copy") == null, "matmul rows carry no copy fraction");
        List<String> lines = rep.table().lines().toList();
        assertEquals(List.of("matmul", "tf32", "4,096", "300.0", "400.0", "TFLOP/s", "0.75"), List.of(lines.get(2).trim().split("\\s+")));
        assertEquals(List.of("matmul", "fp16", "4,096", "500.0", "n/a", "TFLOP/s", "n/a"), List.of(lines.get(3).trim().split("\\s+")));
        assertNull(rep.rows().get(1).ratio());
    }

    @Test void precisionParsingIsCaseInsensitiveAndNamesAllowedValues() {
        assertEquals(MatmulBench.Precision.BF16, MatmulBench.Precision.parse(" BF16"));
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> MatmulBench.Precision.parse("int8"));
        assertTrue(e.getMessage().contains("allowed: fp32, tf32, bf16, fp16"), e.getMessage());
    }

    @Test void torchScriptIsValidPython() throws Exception {
        PythonSyntax.assertParses(MatmulBench.SCRIPT);
    }
}
