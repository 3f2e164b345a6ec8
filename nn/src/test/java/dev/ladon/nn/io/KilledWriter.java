package dev.ladon.nn.io;

import dev.ladon.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.Map;

/**
 * Run in a child JVM by {@link SafeTensorsTest}: starts an atomic checkpoint write, stops half-way, says
 * {@link #READY} and waits to be killed.
 */
public final class KilledWriter {
    static final String READY = "half-written";

    public static void main(String[] args) throws IOException {
        Map<String, Tensor> tensors = Map.of("w", Tensor.zeros(4096));
        byte[] header = SafeTensors.header(tensors, Map.of());
        AtomicFile.write(Path.of(args[0]), channel -> SafeTensors.writeTo(new WritableByteChannel() {
            private long written;

            @Override
            public int write(ByteBuffer src) throws IOException {
                if (written >= 64) { // past the header: write half of this data chunk, then stop
                    ByteBuffer half = src.duplicate();
                    half.limit(half.position() + half.remaining() / 2);
                    channel.write(half);
                    System.out.println(READY);
                    System.out.flush();
                    System.in.read(); // blocks: the parent kills this process here
                    throw new IOException("the parent should have killed this process");
                }
                int n = channel.write(src);
                written += n;
                return n;
            }

            @Override
            public boolean isOpen() {
                return true;
            }

            @Override
            public void close() {
            }
        }, header, tensors));
    }
}
