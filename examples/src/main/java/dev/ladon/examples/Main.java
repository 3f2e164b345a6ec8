package dev.ladon.examples;

import dev.ladon.tensor.OpProfiler;
import dev.ladon.tensor.cpu.Parallel;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** Entry point of {@code bin/ladon}: dispatches to one {@link Command}. */
public final class Main {
    private Main() {
    }

    /** Every command, in the order the help lists them. */
    static List<Command> commands() {
        return List.of(new TrainCommand(), new GenerateCommand(), new CompareCommand(), new AnalyzeCommand(),
                new StatsCommand(), new GradcheckCommand(), new BenchCommand(), new RoutingBenchCommand(),
                new DemoCommand());
    }

    public static void main(String[] args) throws Exception {
        boolean profiling = startProfiler(System.getenv("LADON_PROFILE"));
        int code = run(args);
        if (profiling) {
            System.err.print(OpProfiler.table());
            System.err.print(OpProfiler.productTable(Parallel.numThreads()));
        }
        System.exit(code);
    }

    /**
     * LADON_PROFILE=ops (or 1) times every op of the command and prints the table when it ends; =shapes keys
     * the table by op and operand shapes; =products adds a table of the CPU's float32 products by shape, with
     * the threads' time in packing and in the micro-kernels. Unset or empty: no profiling.
     */
    static boolean startProfiler(String setting) {
        if (setting == null || setting.isBlank()) {
            return false;
        }
        switch (setting.trim().toLowerCase(Locale.ROOT)) {
            case "ops", "1", "true" -> OpProfiler.enable(false);
            case "shapes" -> OpProfiler.enable(true);
            case "products" -> OpProfiler.enable(false, true);
            default -> {
                System.err.println("ladon: ignoring LADON_PROFILE='" + setting
                        + "' (expected ops, shapes or products)");
                return false;
            }
        }
        return true;
    }

    static int run(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            printHelp();
            return args.length == 0 ? 2 : 0;
        }
        for (Command c : commands()) {
            if (c.name().equals(args[0])) {
                String[] rest = Arrays.copyOfRange(args, 1, args.length);
                try {
                    // Options finds -h and --help where an option name is expected (not as a value: --prompt -h
                    // is a prompt); the first argument is always such a place (bench's suite comes there).
                    if (rest.length > 0 && (rest[0].equals("-h") || rest[0].equals("--help"))) {
                        throw new Options.HelpRequested();
                    }
                    return c.run(rest);
                } catch (Options.HelpRequested e) {
                    System.out.println(c.help());
                    return 0;
                } catch (IllegalArgumentException e) {
                    System.err.println("ladon " + c.name() + ": " + e.getMessage());
                    System.err.println("(see: bin/ladon " + c.name() + " --help)");
                    return 2;
                } catch (IOException e) {
                    // A file or directory the command was pointed at is missing, unreadable or not what it should
                    // be: the user's to fix, so it is named in one line rather than in a stack trace.
                    System.err.println("ladon " + c.name() + ": "
                            + (e instanceof FileSystemException f ? describe(f) : e.getMessage()));
                    return 1;
                } catch (TrainingDiverged e) {
                    System.err.println("ladon " + c.name() + ": " + e.getMessage());
                    return 1;
                } catch (OutOfMemoryError e) {
                    System.err.println("ladon " + c.name() + ": " + outOfHeap(e, Runtime.getRuntime().maxMemory()));
                    return 1;
                }
            }
        }
        System.err.println("ladon: unknown command '" + args[0] + "'");
        printHelp();
        return 2;
    }

    /**
     * The Java heap ran out: how big it is, what the command was doing if it said (a command rethrows the
     * error with the model's size as its message), and how to give the JVM more.
     */
    static String outOfHeap(OutOfMemoryError e, long maxHeapBytes) {
        String context = e.getMessage() == null || e.getMessage().equals("Java heap space")
                || e.getMessage().startsWith("Requested array size") ? "" : " (" + e.getMessage() + ")";
        // How much the command needs is not known here: the advice is twice the heap it had.
        return String.format(Locale.ROOT, "the Java heap (%.1f GiB) ran out%s; give the JVM more, e.g. %s bin/ladon "
                + "..., or make the model or the batch smaller", maxHeapBytes / (double) (1L << 30), context,
                javaOptsForHeap(2.0 * maxHeapBytes));
    }

    /**
     * The launcher's setting for a Java heap of at least {@code bytes}: {@code LADON_JAVA_OPTS="-Xmx<N>g
     * -XX:+UseSerialGC"}, N the whole GiB rounded up and at least 2 (the serial collector is the launcher's
     * default, which the variable replaces).
     */
    static String javaOptsForHeap(double bytes) {
        long gib = Math.max(2, (long) Math.ceil(bytes / (1L << 30)));
        return "LADON_JAVA_OPTS=\"-Xmx" + gib + "g -XX:+UseSerialGC\"";
    }

    /** What went wrong with which path, in words: "no such file or directory: /data/x.txt". */
    static String describe(FileSystemException e) {
        String what = e instanceof NoSuchFileException ? "no such file or directory"
                : e instanceof AccessDeniedException ? "permission denied"
                : e instanceof NotDirectoryException ? "not a directory"
                : e instanceof FileAlreadyExistsException ? "already exists"
                : e.getReason() != null ? e.getReason() : e.getClass().getSimpleName();
        String paths = e.getFile() == null ? "" : e.getOtherFile() == null ? e.getFile()
                : e.getFile() + " -> " + e.getOtherFile();
        return paths.isEmpty() ? what : what + ": " + paths;
    }

    private static void printHelp() {
        StringBuilder sb = new StringBuilder("usage: bin/ladon <command> [options]   (bin/ladon <command> --help for its options)\n\n");
        sb.append("commands:\n");
        for (Command c : commands()) {
            sb.append(String.format("  %-14s %s%n", c.name(), c.summary()));
        }
        sb.append(String.format("  %-14s %s%n", "test", "run the whole test suite (mvn test)"));
        sb.append("\nenvironment:\n");
        sb.append("  LADON_NUM_THREADS=N       CPU threads (default: all cores)\n");
        sb.append("  LADON_PROFILE=ops|shapes|products\n");
        sb.append("                            time every op and print a table of where the time went when the\n");
        sb.append("                            command ends (shapes: one line per op and operand shapes; products:\n");
        sb.append("                            also the CPU's float32 products by shape, with the threads' time\n");
        sb.append("                            in packing and in the micro-kernels)\n");
        sb.append("  LADON_JAVA_OPTS=...       JVM options instead of the launcher's (default -Xmx8g -XX:+UseSerialGC)\n");
        System.out.print(sb);
    }
}
