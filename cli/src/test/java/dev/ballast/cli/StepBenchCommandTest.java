package dev.ballast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ballast.bench.step.TorchStepBench;
import org.junit.jupiter.api.Test;

class StepBenchCommandTest {

    @Test void oneModelOnTheCpuReportsItsStepTimeAndMemoryFiguresWithoutTorch() throws Exception {
        Run r = Run.of("bench", "step", "--device", "cpu", "--models", "rnn", "--quick", "--no-torch", "--json");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode json = new ObjectMapper().readTree(r.out().lines().toList().getLast());
        assertEquals("cpu", json.get("device").asText());
        assertEquals(1, json.get("models").size(), json.toString());
        JsonNode rnn = json.get("models").get("rnn");
        assertTrue(rnn.get("ballast_ms").asDouble() > 0, rnn.toString());
        assertTrue(rnn.get("torch_ms").isNull() && rnn.get("ratio").isNull(), rnn.toString());
        assertEquals(10_501, rnn.get("params").asLong(), "RNN h100 on 2 inputs plus a 100-1 head");
        assertTrue(rnn.get("page_faults_per_step").asDouble() >= 0 && rnn.get("native_allocs_per_step").asDouble() >= 0, rnn.toString());
        assertTrue(json.get("torch").asText().contains("--no-torch"), json.toString());
        assertTrue(rnn.get("warmup_steps").asInt() >= 1 && rnn.has("jit_quiet"), "--quick still runs its one warm-up step: " + rnn);
        assertTrue(r.out().contains("ratio") && r.out().contains("rnn"), r.out());
    }

    @Test void unknownModelIsAUsageErrorNamingTheModels() {
        Run r = Run.of("bench", "step", "--device", "cpu", "--models", "rnn,resnet", "--no-torch");
        assertEquals(2, r.exitCode(), r.err());
        assertTrue(r.err().contains("unknown model 'resnet'; allowed: mlp, rnn, lstm, transformer, mlp50, lstm256, gpt"), r.err());
    }

    @Test void unknownDeviceIsAUsageError() {
        Run r = Run.of("bench", "step", "--device", "tpu");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("Invalid --device 'tpu': allowed values are cpu, cuda, auto"), r.err());
    }

    @Test void torchScriptIsValidPython() throws Exception {
        PythonSyntax.assertParses(TorchStepBench.script());
    }
}
