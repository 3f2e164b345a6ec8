package dev.ladon.examples;

/** One sub-command of {@code bin/ladon}. */
interface Command {
    /** The word users type, e.g. {@code train}. */
    String name();

    /** One line for the top-level help. */
    String summary();

    /** Full help: every option with its default. */
    String help();

    /** Runs with the arguments after the command word; returns the process exit code. */
    int run(String[] args) throws Exception;
}
