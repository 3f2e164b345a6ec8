package dev.ladon.cuda;

/**
 * Bad index values found by kernels. Index tensors live on the device, so checking them on the host
 * would cost a copy and a synchronisation per op; instead each kernel checks its indices, skips a bad one
 * and records the first in a 32-byte record on the device ({@code IndexError} in ladon.cuh). The backend
 * reads the record whenever it synchronises with the host anyway (a copy to the host, {@code item()},
 * {@link CudaBackend#synchronize()}) and throws there, naming the op, the index and the valid range.
 * With {@code -Dladon.cuda.syncIndexChecks=true} the record is read right after every op that checks
 * indices, so the exception comes from the op itself (slower; for debugging).
 */
final class IndexErrors {
    /** The ops that report; the ordinal is the {@code op} field of the record. */
    enum Op {
        GATHER("gather"), SCATTER_ADD("scatterAdd"), INDEX_SELECT("indexSelect"), INDEX_ADD("indexAdd"),
        CROSS_ENTROPY("crossEntropy"), GROUPED_MATMUL_ROW("groupedMatmul (row)"),
        GROUPED_MATMUL_EXPERT("groupedMatmul (expert)");

        final String display;

        Op(String display) {
            this.display = display;
        }
    }

    static final int RECORD_BYTES = 32;

    private IndexErrors() {
    }

    /**
     * The message for a record read as four longs (little-endian ints: flag, op | dim, unused | value |
     * size), or null when no error was recorded.
     */
    static String describe(long[] record) {
        int flag = (int) record[0];
        if (flag == 0) {
            return null;
        }
        int opIndex = (int) (record[0] >>> 32);
        int dim = (int) record[1];
        long value = record[2];
        long size = record[3];
        Op[] ops = Op.values();
        String op = opIndex >= 0 && opIndex < ops.length ? ops[opIndex].display : "kernel op " + opIndex;
        String where = opIndex == Op.CROSS_ENTROPY.ordinal()
                ? "target " + value + " at row " + dim + " is out of range for " + size + " classes"
                : "index " + value + " is out of range for dim " + dim + " of size " + size;
        return op + ": " + where + " (found on the GPU; reported at the next host synchronisation, run with "
                + "-Dladon.cuda.syncIndexChecks=true to report it from the op itself)";
    }
}
