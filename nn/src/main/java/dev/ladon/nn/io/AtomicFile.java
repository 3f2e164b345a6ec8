package dev.ladon.nn.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Replaces a file all at once, so that a reader (or a resumed run) sees either the old content or the
 * complete new content, never a torn write.
 *
 * <p>The recipe: write the new content to a temporary file in the same directory (a rename is only atomic
 * within one file system), {@code fsync} it ({@link FileChannel#force}) so its bytes are on disk before its
 * name is, rename it over the target with {@link StandardCopyOption#ATOMIC_MOVE}, then {@code fsync} the
 * directory so the rename itself survives a power loss. The last step is skipped where the platform cannot
 * open a directory as a channel (Windows).
 *
 * <p>If the body throws, the temporary file is deleted and the target is untouched. If the process is
 * killed before the rename, the target is also untouched and a temporary file named
 * {@code .<target name>.tmp-<random>} may remain next to it; it is safe to delete.
 */
public final class AtomicFile {
    private AtomicFile() {
    }

    /** Writes the whole content of a file to {@code channel}. */
    @FunctionalInterface
    public interface Body {
        void writeTo(WritableByteChannel channel) throws IOException;
    }

    /**
     * Writes {@code target} atomically with the bytes {@code body} produces. The parent directory must
     * exist.
     *
     * @throws IOException from the body or the file system; the target then keeps its previous content
     */
    public static void write(Path target, Body body) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new IOException("atomic write of " + target + ": directory " + dir + " does not exist");
        }
        Path temp = dir.resolve("." + absolute.getFileName() + ".tmp-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        boolean moved = false;
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                body.writeTo(channel);
                channel.force(true);
            }
            Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE);
            moved = true;
        } finally {
            if (!moved) {
                Files.deleteIfExists(temp);
            }
        }
        syncDirectory(dir);
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Not every platform can fsync a directory (Windows cannot open one); the rename is still atomic.
        }
    }
}
