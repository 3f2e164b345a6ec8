package dev.ladon.examples.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
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
        return Session.launch(command, environment, echo).finish(null);
    }

    /**
     * A peer that takes requests on its standard input, one line each, so that its timed work can be
     * interleaved with Ladon's: started with {@link #start}, asked with {@link #ask}, ended with {@link #finish},
     * which returns everything it printed. Lines other than the awaited answers go to {@code echo}.
     */
    public static final class Session implements AutoCloseable {
        private final Process process;
        private final Writer requests;
        private final BufferedReader output;
        private final Consumer<String> echo;
        private final List<String> lines = new ArrayList<>();
        private String failure;
        private boolean ended;

        private Session(Process process, Consumer<String> echo) {
            this.process = process;
            this.requests = process == null ? null
                    : new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            this.output = process == null ? null
                    : new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            this.echo = echo;
        }

        /**
         * Starts {@code command} and waits for it to print the line {@code ready}; {@link #isReady} says whether it
         * did (if not, {@link #finish} gives what it printed and why it stopped).
         */
        public static Session start(List<String> command, Map<String, String> environment, Consumer<String> echo) {
            Session session = launch(command, environment, echo);
            if (!session.ended && session.readUntil("ready") == null) {
                session.ended = true;
            }
            return session;
        }

        /** Starts {@code command}; a session that could not start is ended and keeps the reason. */
        private static Session launch(List<String> command, Map<String, String> environment, Consumer<String> echo) {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            pb.environment().putAll(environment);
            try {
                return new Session(pb.start(), echo);
            } catch (IOException e) {
                Session failed = new Session(null, echo);
                failed.failure = "could not start " + command.getFirst() + ": " + e.getMessage();
                failed.ended = true;
                return failed;
            }
        }

        public boolean isReady() {
            return !ended;
        }

        /** Sends one request and returns the first line that starts with {@code answerPrefix}, or null if it ended. */
        public String ask(String request, String answerPrefix) {
            if (ended) {
                return null;
            }
            try {
                requests.write(request + "\n");
                requests.flush();
            } catch (IOException e) {
                ended = true;
                return null;
            }
            String answer = readUntil(answerPrefix);
            if (answer == null) {
                ended = true;
            }
            return answer;
        }

        /**
         * Sends {@code lastRequest} (if it is still running and there is one), closes its input, reads the
         * rest of its output and waits for it to exit.
         */
        public Result finish(String lastRequest) throws InterruptedException {
            if (process == null) {
                return new Result(-1, lines, failure);
            }
            try {
                if (!ended && lastRequest != null) {
                    requests.write(lastRequest + "\n");
                }
                requests.close();
            } catch (IOException e) {
                // it has exited already; its output says why
            }
            readUntil(null);
            return new Result(process.waitFor(), lines, null);
        }

        /** Stops the peer if it is still running (after {@link #finish} it has exited already). */
        @Override
        public void close() {
            if (process != null && process.isAlive()) {
                process.destroy();
            }
            ended = true;
        }

        /** Reads lines until one starts with prefix (returned, not echoed) or, with a null prefix, to the end. */
        private String readUntil(String prefix) {
            try {
                for (String line = output.readLine(); line != null; line = output.readLine()) {
                    lines.add(line);
                    if (prefix != null && line.startsWith(prefix)) {
                        return line;
                    }
                    echo.accept(line);
                }
            } catch (IOException e) {
                // the end of its output
            }
            return null;
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
