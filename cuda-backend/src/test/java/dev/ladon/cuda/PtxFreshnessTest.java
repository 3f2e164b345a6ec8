package dev.ladon.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The committed PTX must come from the current CUDA sources: each .ptx.gz records the SHA-256 of its .cu
 * followed by every .cuh (in name order), exactly as build-ptx.sh computes it. A stale PTX would run old
 * kernel code silently, so this fails instead and names the script that fixes it.
 */
class PtxFreshnessTest {
    static final Path CUDA_SOURCES = Path.of("src/main/cuda");
    static final Path PTX = Path.of("src/main/resources/dev/ladon/cuda/ptx");

    @Test
    void everyKernelFileHasPtxGeneratedFromItsCurrentSource() throws IOException {
        List<Path> sources = list(CUDA_SOURCES, ".cu");
        assertThat(sources).as("kernel sources in %s", CUDA_SOURCES).isNotEmpty();
        for (Path cu : sources) {
            String name = cu.getFileName().toString().replace(".cu", "");
            Path ptx = PTX.resolve(name + ".ptx.gz");
            assertThat(ptx).as("PTX for %s; run cuda-backend/build-ptx.sh %s", cu, name).exists();
            assertThat(recordedHash(ptx))
                    .as("%s is stale: its source changed since it was generated; run cuda-backend/build-ptx.sh %s", ptx, name)
                    .isEqualTo(sourceHash(cu));
        }
    }

    @Test
    void everyPtxFileHasItsSource() throws IOException {
        for (Path ptx : list(PTX, ".ptx.gz")) {
            String name = ptx.getFileName().toString().replace(".ptx.gz", ".cu");
            assertThat(CUDA_SOURCES.resolve(name)).as("source of %s", ptx).exists();
        }
    }

    @Test
    void ptxTargetsComputeCapability80() throws IOException {
        assertThat(list(PTX, ".ptx")).as("uncompressed PTX in %s (build-ptx.sh writes .ptx.gz)", PTX).isEmpty();
        for (Path ptx : list(PTX, ".ptx.gz")) {
            assertThat(text(ptx)).as("%s", ptx).contains(".target sm_80").contains(".address_size 64");
        }
    }

    /** The hash of a .cu as build-ptx.sh computes it: the file, then every .cuh of its folder by name. */
    static String sourceHash(Path cu) throws IOException {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(Files.readAllBytes(cu));
            for (Path h : list(cu.getParent(), ".cuh")) {
                sha.update(Files.readAllBytes(h));
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String recordedHash(Path ptx) throws IOException {
        return text(ptx).lines().limit(5).filter(l -> l.startsWith("// ladon-source-sha256: ")).findFirst()
                .map(l -> l.substring("// ladon-source-sha256: ".length()).trim()).orElse("(no hash recorded)");
    }

    /** The text of a gzipped PTX file. */
    static String text(Path ptxGz) throws IOException {
        try (java.io.InputStream in = new java.util.zip.GZIPInputStream(Files.newInputStream(ptxGz))) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** Files of a folder with a suffix, sorted by name in byte order (as LC_ALL=C sort does for ASCII names). */
    static List<Path> list(Path dir, String suffix) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> out = new ArrayList<>(files.filter(p -> p.getFileName().toString().endsWith(suffix)).toList());
            out.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
            return out;
        }
    }
}
