package dev.ladon.examples.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A peer benchmark run to completion as a child process (a PyTorch script), whose output lines are shown as
 * they come and kept for parsing. Result lines are {@code key=value} words, read with {@link #fields}.
 */
public final class PeerProcess {
    /**
     * What the peer printed.
     *
     * @param exitCode the process's exit status, or -1 when it could not be started
     * @param lines    every line of its standard output and error, in order
     * @param failure  why it could not be started, or null
     */
    public record Result(int exitCode, List<String> lines, String failure) {
        /** The last line that starts with {@code prefix}, or null. */
        public String lastLineStartingWith(String prefix) {
            for (int i = lines.size() - 1; i >= 0; i--) {
                if (lines.get(i).startsWith(prefix)) {
                    return lines.get(i);
                }
            }
            return null;
        }

        /** One line saying why the peer gave no result: its start failure, or its exit code and last line. */
        public String explanation() {
            if (failure != null) {
                return failure;
            }
            return "exit " + exitCode + (lines.isEmpty() ? ", no output" : ": " + lines.getLast());
        }
    }

    private PeerProcess() {
    }

    /**
     * Runs {@code command} with {@code environment} added, passing each output line to {@code echo} as it
     * arrives, and waits for it to end.
     */
    public static Result run(List<String> command, Map<String, String> environment, Consumer<String> echo)
            throws InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().putAll(environment);
        List<String> lines = new ArrayList<>();
        try {
            Process p = pb.start();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    lines.add(line);
                    echo.accept(line);
                }
            }
            return new Result(p.waitFor(), lines, null);
        } catch (IOException e) {
            return new Result(-1, lines, "could not start " + command.getFirst() + ": " + e.getMessage());
        }
    }

    /** The {@code key=value} words of a line, in order; words without '=' are skipped. */
    public static Map<String, String> fields(String line) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String word : line.trim().split("\\s+")) {
            int eq = word.indexOf('=');
            if (eq > 0) {
                out.put(word.substring(0, eq), word.substring(eq + 1));
            }
        }
        return out;
    }
}
