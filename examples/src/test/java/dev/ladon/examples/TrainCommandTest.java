package dev.ladon.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainCommandTest {
    private static byte[] bytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) i;
        }
        return b;
    }

    @Test
    void segmentsContinueEachStreamAndTargetsAreTheNextBytes() {
        // 40 bytes in 2 streams of 20: stream 0 is bytes 0..19, stream 1 is 20..39.
        TrainCommand.Streams streams = new TrainCommand.Streams(bytes(40), 2, 6);
        TrainCommand.Streams.Segment first = streams.next();
        TrainCommand.Streams.Segment second = streams.next();
        assertThat(first.inputs().toLongArray()).containsExactly(0, 1, 2, 3, 4, 5, 20, 21, 22, 23, 24, 25);
        assertThat(first.targets().toLongArray()).containsExactly(1, 2, 3, 4, 5, 6, 21, 22, 23, 24, 25, 26);
        assertThat(second.inputs().toLongArray()).containsExactly(6, 7, 8, 9, 10, 11, 26, 27, 28, 29, 30, 31);
        assertThat(second.restarted()).isFalse();
        streams.next();
        // Position 18 + 7 would run past the stream: the fourth segment starts over.
        assertThat(streams.next().restarted()).isTrue();
        assertThat(streams.all()).hasSize(3);
    }

    @Test
    void tooShortATextIsReported() {
        assertThatThrownBy(() -> new TrainCommand.Streams(bytes(10), 2, 6)).hasMessageContaining("text too short");
    }

    @Test
    void aTinyRunTrainsEvaluatesAndSamples(@TempDir Path dir) throws Exception {
        Path text = dir.resolve("text.txt");
        Files.writeString(text, "abcabcabd ".repeat(60), StandardCharsets.UTF_8);
        int rc = new TrainCommand().run(new String[] {"--text", text.toString(), "--d-model", "16", "--layers", "1",
                "--heads", "2", "--context", "8", "--batch", "4", "--steps", "3", "--eval-every", "3", "--sample", "5",
                "--positions", "rope"});
        assertThat(rc).isZero();
    }
}
