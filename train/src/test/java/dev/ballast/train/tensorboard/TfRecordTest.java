package dev.ballast.train.tensorboard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TFRecord framing and masked CRC-32C against known values, damage detection, and the event file's first records. */
class TfRecordTest {
    @TempDir Path dir;

    @Test
    void maskedCrcMatchesTheCastagnoliCheckValue() {
        byte[] b = "123456789".getBytes(StandardCharsets.US_ASCII);
        int crc = 0xE3069283; // the CRC-32C check value of "123456789"
        assertEquals(((crc >>> 15) | (crc << 17)) + 0xa282ead8, TfRecord.maskedCrc(b, 0, b.length));
    }

    @Test
    void framesRoundTripAndDamageIsNamed() throws IOException {
        byte[] a = {1, 2, 3}, b = new byte[1000];
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(TfRecord.frame(a));
        out.write(TfRecord.frame(b));
        byte[] bytes = out.toByteArray();
        assertEquals(8 + 4 + 3 + 4, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong() + 16);
        List<byte[]> back = TfRecord.readAll(new ByteArrayInputStream(bytes));
        assertArrayEquals(a, back.get(0));
        assertArrayEquals(b, back.get(1));
        bytes[bytes.length - 10] ^= 1;
        byte[] damaged = bytes;
        var e = assertThrows(IOException.class, () -> TfRecord.readAll(new ByteArrayInputStream(damaged)));
        assertTrue(e.getMessage().contains("tfrecord 1: the data's CRC does not match"), e.getMessage());
        byte[] cut = java.util.Arrays.copyOf(out.toByteArray(), 30);
        e = assertThrows(IOException.class, () -> TfRecord.readAll(new ByteArrayInputStream(cut)));
        assertTrue(e.getMessage().contains("tfrecord 1"), e.getMessage());
    }

    @Test
    void eventFileStartsWithTheVersionAndHoldsTaggedSummaries() throws IOException {
        Path f;
        try (EventFileWriter w = new EventFileWriter(dir.resolve("run"))) {
            w.scalar("train/loss", 5, 0.25);
            w.histogram("grad/w", 5, -3, 1, 4, -4, 10, new double[] {-2, 0, 1}, new double[] {1, 2, 1});
            f = w.file();
        }
        assertTrue(f.getFileName().toString().startsWith("events.out.tfevents."), f.toString());
        List<byte[]> records = TfRecord.readAll(Files.newInputStream(f));
        assertEquals(3, records.size());
        assertTrue(new String(records.get(0), StandardCharsets.ISO_8859_1).contains("brain.Event:2"));
        String scalar = new String(records.get(1), StandardCharsets.ISO_8859_1);
        assertTrue(scalar.contains("train/loss"), scalar);
        // the float 0.25 after field 2's tag (0x15) inside the summary value
        byte[] quarter = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0.25f).array();
        assertTrue(indexOf(records.get(1), new byte[] {0x15, quarter[0], quarter[1], quarter[2], quarter[3]}) > 0);
        assertTrue(new String(records.get(2), StandardCharsets.ISO_8859_1).contains("grad/w"));
    }

    @Test
    void fieldsReadBackWhatProtoWrote() throws IOException {
        byte[] msg = new TfRecord.Proto().int64(2, 300).dbl(1, -2.5).flt(3, 0.75f).str(7, "grad/w")
                .msg(5, new TfRecord.Proto().int64(1, 9)).toByteArray();
        List<TfRecord.ProtoField> f = TfRecord.fields(msg);
        assertEquals(5, f.size());
        assertEquals(300, f.get(0).bits());
        assertEquals(-2.5, Double.longBitsToDouble(f.get(1).bits()));
        assertEquals(0.75f, Float.intBitsToFloat((int) f.get(2).bits()));
        assertEquals("grad/w", new String(f.get(3).bytes(), java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(9, TfRecord.fields(f.get(4).bytes()).get(0).bits());
        var e = assertThrows(IOException.class, () -> TfRecord.fields(java.util.Arrays.copyOf(msg, msg.length - 1)));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        e = assertThrows(IOException.class, () -> TfRecord.fields(new byte[] {(byte) ((4 << 3) | 3)}));
        assertTrue(e.getMessage().contains("wire type 3"), e.getMessage());
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }
}
