package dev.ladon.examples.bench;

import java.nio.file.Files;
import java.nio.file.Path;

/** Finds a peer script of the repository from the working directory: the root or one of its modules. */
public final class PeerScript {
    private PeerScript() {
    }

    /**
     * {@code relative} (e.g. {@code bench/lm_step_peer.py}) under the working directory or its parent (a
     * module directory, where Maven runs tests), or null when neither has it.
     */
    public static Path find(String relative) {
        Path here = Path.of("").toAbsolutePath();
        if (Files.isRegularFile(here.resolve(relative))) {
            return here.resolve(relative);
        }
        Path parent = here.getParent();
        return parent != null && Files.isRegularFile(parent.resolve(relative)) ? parent.resolve(relative) : null;
    }
}
