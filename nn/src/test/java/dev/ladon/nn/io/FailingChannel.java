package dev.ladon.nn.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/** Passes writes through until {@code limit} bytes, then fails like a full disk. */
final class FailingChannel implements WritableByteChannel {
    private final WritableByteChannel target;
    private long remaining;

    FailingChannel(WritableByteChannel target, long limit) {
        this.target = target;
        this.remaining = limit;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        if (remaining <= 0) {
            throw new IOException("simulated write failure");
        }
        if (src.remaining() <= remaining) {
            int n = target.write(src);
            remaining -= n;
            return n;
        }
        ByteBuffer part = src.duplicate();
        part.limit(part.position() + (int) remaining);
        int n = target.write(part);
        src.position(src.position() + n);
        remaining -= n;
        return n;
    }

    @Override
    public boolean isOpen() {
        return target.isOpen();
    }

    @Override
    public void close() throws IOException {
        target.close();
    }
}
