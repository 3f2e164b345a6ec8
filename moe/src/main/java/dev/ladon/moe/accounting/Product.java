package dev.ladon.moe.accounting;

/**
 * Products of counts that fail rather than wrap around: a configuration with a context of 2 billion tokens
 * has attention costs past 2^63 - 1, and a negative count printed as if it were one would mislead.
 */
final class Product {
    private Product() {
    }

    /**
     * @throws ArithmeticException if the product exceeds the range of a long
     */
    static long of(long... factors) {
        long product = 1;
        for (long f : factors) {
            product = Math.multiplyExact(product, f);
        }
        return product;
    }
}
