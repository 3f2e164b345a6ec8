package dev.ladon.examples.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The NumPy side of a benchmark: one {@code bench/gemm_peer.py} process per thread count (OpenBLAS reads
 * {@code OPENBLAS_NUM_THREADS} when it loads), asked for one case at a time so that Ladon's and NumPy's
 * timings of a case are taken back to back.
 */
public final class NumpyPeer implements AutoCloseable {
    /** What to install when the peer cannot run (Debian's NumPy linked against threaded OpenBLAS). */
    public static final String INSTALL_HINT = "apt-get install -y python3-numpy libopenblas0-pthread";

    private final Process process;
    private final Writer requests;
    private final BufferedReader answers;
    private final String description;

    private NumpyPeer(Process process, Writer requests, BufferedReader answers, String description) {
        this.process = process;
        this.requests = requests;
        this.answers = answers;
        this.description = description;
    }

    /**
     * Starts the peer, or returns null (after saying why) when the Python, the script or NumPy is missing.
     *
     * @param python  the interpreter, e.g. {@code /usr/bin/python3}
     * @param script  path of {@code gemm_peer.py}
     * @param threads value for OPENBLAS_NUM_THREADS (and OMP_NUM_THREADS)
     * @param minReps at least this many timed runs per case
     */
    public static NumpyPeer start(String python, Path script, int threads, int minReps) {
        if (!Files.isRegularFile(script)) {
            System.out.println("peer: " + script + " not found (run from the repository root); Ladon only");
            return null;
        }
        ProcessBuilder pb = new ProcessBuilder(python, script.toString(), "--reps", Integer.toString(minReps));
        pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
        pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        try {
            Process p = pb.start();
            Writer w = new OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8);
            BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String first = r.readLine();
            if (first == null || !first.startsWith("peer ")) {
                p.destroy();
                printMissing(python);
                return null;
            }
            return new NumpyPeer(p, w, r, first.substring("peer ".length()));
        } catch (IOException e) {
            printMissing(python);
            return null;
        }
    }

    private static void printMissing(String python) {
        System.out.println("peer: NumPy is not available to " + python + "; to compare with OpenBLAS install it with:");
        System.out.println("peer:   " + INSTALL_HINT);
        System.out.println("peer: continuing with Ladon's numbers only");
    }

    /** NumPy's version and the BLAS library the peer process loaded. */
    public String description() {
        return description;
    }

    /** Median milliseconds of one case on the peer, or NaN if the peer failed on it. */
    public double medianMillis(String request) {
        try {
            requests.write(request + "\n");
            requests.flush();
            String line = answers.readLine();
            if (line == null || !line.startsWith("ms=")) {
                return Double.NaN;
            }
            return Double.parseDouble(line.substring(3));
        } catch (IOException | NumberFormatException e) {
            return Double.NaN;
        }
    }

    @Override
    public void close() {
        try {
            requests.close();
            process.waitFor();
        } catch (IOException e) {
            process.destroy();
        } catch (InterruptedException e) {
            process.destroy();
            Thread.currentThread().interrupt();
        }
    }
}
