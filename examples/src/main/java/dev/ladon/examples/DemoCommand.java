package dev.ladon.examples;

import dev.ladon.tensor.Tensor;
import dev.ladon.tensor.cpu.Parallel;

/** A small tour of the tensor API, kept until the training command takes over the README's main job. */
final class DemoCommand implements Command {
    @Override
    public String name() {
        return "demo";
    }

    @Override
    public String summary() {
        return "print a few tensor operations and a timed 1024^3 matmul";
    }

    @Override
    public String help() {
        return "usage: bin/ladon demo\n  Builds small tensors, shows broadcasting, softmax and a batched matmul.";
    }

    @Override
    public int run(String[] args) {
        new Options(args); // no options: anything given is a mistake, said as one
        Tensor x = Tensor.arange(0, 6, 1, dev.ladon.tensor.DType.FLOAT32).reshape(2, 3);
        System.out.println("x = " + x);
        System.out.println("x + [10, 20, 30] = " + x.add(Tensor.of(new float[] {10, 20, 30}, 3)));
        System.out.println("softmax(x, dim=1) = " + x.softmax(1));
        System.out.println("x @ x^T = " + x.matmul(x.mT()));
        Tensor a = Tensor.randn(1024, 1024);
        Tensor b = Tensor.randn(1024, 1024);
        a.matmul(b);
        long t0 = System.nanoTime();
        a.matmul(b);
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("1024^3 matmul on %d threads: %.1f ms, %.1f GFLOP/s%n", Parallel.numThreads(), s * 1e3,
                2.0 * 1024 * 1024 * 1024 / s / 1e9);
        return 0;
    }
}
