package dev.ladon.examples;

import java.util.Arrays;
import java.util.List;

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
        System.exit(run(args));
    }

    static int run(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            printHelp();
            return args.length == 0 ? 2 : 0;
        }
        for (Command c : commands()) {
            if (c.name().equals(args[0])) {
                String[] rest = Arrays.copyOfRange(args, 1, args.length);
                if (Arrays.asList(rest).contains("--help") || Arrays.asList(rest).contains("-h")) {
                    System.out.println(c.help());
                    return 0;
                }
                try {
                    return c.run(rest);
                } catch (IllegalArgumentException e) {
                    System.err.println("ladon " + c.name() + ": " + e.getMessage());
                    System.err.println("(see: bin/ladon " + c.name() + " --help)");
                    return 2;
                }
            }
        }
        System.err.println("ladon: unknown command '" + args[0] + "'");
        printHelp();
        return 2;
    }

    private static void printHelp() {
        StringBuilder sb = new StringBuilder("usage: bin/ladon <command> [options]   (bin/ladon <command> --help for its options)\n\n");
        sb.append("commands:\n");
        for (Command c : commands()) {
            sb.append(String.format("  %-14s %s%n", c.name(), c.summary()));
        }
        sb.append(String.format("  %-14s %s%n", "test", "run the whole test suite (mvn test)"));
        System.out.print(sb);
    }
}
