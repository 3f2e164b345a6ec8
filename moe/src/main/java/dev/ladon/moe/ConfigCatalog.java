package dev.ladon.moe;

import dev.ladon.moe.ModelConfig.Projection;
import dev.ladon.moe.ModelConfig.PositionEncoding;
import dev.ladon.moe.ModelConfig.Selection;
import dev.ladon.moe.ModelConfig.Variant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The named configurations behind {@link ModelConfig#named}: the Wikitext-103 and Enwik8 runs of the
 * SwitchHead paper (values from the official sweep files, see the spec's {@code switchhead.md} section 8
 * and {@code paper-results.md}), the sigma-MoE paper's Wikitext models, the 47M MoA runs of SwitchHead's
 * Table 1, and small models for CPU runs.
 */
final class ConfigCatalog {
    private record Entry(ModelConfig config, String description) {
    }

    private static final Map<String, Entry> ENTRIES = new LinkedHashMap<>();

    static {
        // ---- 47M Wikitext-103: L=16, d=412, T=256 with one memory block, dropout 0.1 -------------
        add(small47(Variant.DENSE, "xl-47m").heads(10).dHead(41).dFF(2053),
                "Transformer-XL 47M (sweep wikitext103_xl)");
        add(small47(Variant.DENSE, "xl-47m-h2").heads(2).dHead(205).dFF(2053),
                "Transformer-XL 47M with 2 heads of 205 (per-dataset table)");
        add(small47(Variant.SWITCHHEAD, "switchhead-47m").heads(2).dHead(76).experts(5, 2).dFF(2080),
                "SwitchHead 47M, E=5 k=2 (sweep wikitext103_moeatt_matched_l_ff)");
        add(small47(Variant.SWITCHHEAD, "switchhead-47m-k3").heads(2).dHead(76).experts(5, 3).dFF(2080),
                "SwitchHead 47M, E=5 k=3 (the C4 and peS2o runs)");
        add(small47(Variant.SWITCHALL, "switchall-47m").heads(2).dHead(76).experts(5, 2).sigmaMoe(16, 128, 4)
                .ffEntropyRegularization(1e-4), "SwitchAll 47M (sweep wikitext103_small_fullmoe)");
        add(small47(Variant.SIGMA_MOE, "sigma-moe-47m").heads(10).dHead(41).sigmaMoe(16, 128, 4)
                .ffEntropyRegularization(1e-3), "sigma-MoE WT-S 47M (sigma-MoE paper Table 9)");
        for (int k : new int[] {2, 4, 6, 8}) {
            add(small47(Variant.MOA, "moa-47m-k" + k).heads(k).dHead(88).experts(10, k).dFF(2053),
                    "MoA 47M, E=10 d_h=88 (inferred from the MAC column) k=" + k + ", sigmoid gate; d_ff assumed 2053");
        }
        // Which projections to make experts (47M, H=2, E=5, k=2; d_h and d_ff matched to the parameter budget).
        add(small47(Variant.SWITCHHEAD, "switchhead-47m-v").heads(2).dHead(112).experts(5, 2)
                .moeProjections(Projection.parseSet("v")).dFF(2065), "SwitchHead 47M, V experts only (ablation)");
        add(small47(Variant.SWITCHHEAD, "switchhead-47m-qo").heads(2).dHead(76).experts(5, 2)
                .moeProjections(Projection.parseSet("qo")).dFF(2080), "SwitchHead 47M, Q and O experts (ablation)");
        add(small47(Variant.SWITCHHEAD, "switchhead-47m-vok").heads(2).dHead(56).experts(5, 2)
                .moeProjections(Projection.parseSet("vok")).dFF(2115), "SwitchHead 47M, V, O, K experts (ablation)");
        add(small47(Variant.SWITCHHEAD, "switchhead-47m-qkvo").heads(2).dHead(48).experts(5, 2)
                .moeProjections(Projection.parseSet("qkvo")).dFF(2060), "SwitchHead 47M, all four experts (ablation)");

        // ---- 262M Wikitext-103: L=18, d=1024, T=512 with one memory block, dropout 0.2 ------------
        add(big262(Variant.DENSE, "xl-262m").heads(16).dHead(64).dFF(4110),
                "Transformer-XL 262M (sweep wikitext103_baseline_big)");
        add(big262(Variant.DENSE, "xl-262m-h2").heads(2).dHead(512).dFF(4110),
                "Transformer-XL 262M with 2 heads of 512 (per-dataset table)");
        add(big262(Variant.DENSE, "xl-262m-h4").heads(4).dHead(256).dFF(4110),
                "Transformer-XL 262M with 4 heads of 256 (C4 / peS2o table)");
        add(big262(Variant.SWITCHHEAD, "switchhead-262m").heads(2).dHead(132).experts(8, 4).dFF(4147),
                "SwitchHead 262M, H=2 E=8 k=4 (sweep wikitext103_moeatt_big_h2_matched_k4)");
        add(big262(Variant.SWITCHHEAD, "switchhead-262m-h4").heads(4).dHead(112).experts(4, 2).dFF(4188),
                "SwitchHead 262M, H=4 E=4 k=2 (the C4 and peS2o runs)");
        add(big262(Variant.SWITCHALL, "switchall-259m").heads(4).dHead(112).experts(4, 2).sigmaMoe(32, 128, 4)
                .ffEntropyRegularization(1e-3).ffExpertDropout(0.1).attentionExpertDropout(0.1),
                "SwitchAll 259M (sweep wikitext103_big_fullmoe_h4_k2_matchfix; attention expert dropout 0.1 "
                        + "through the drop_expert fallback)");
        add(big262(Variant.SIGMA_MOE, "sigma-moe-262m").heads(16).dHead(64).sigmaMoe(32, 128, 4)
                .ffEntropyRegularization(1e-3).ffExpertDropout(0.2), "sigma-MoE WT-B 262M (sigma-MoE paper Table 9)");

        // ---- RoPE, no memory ---------------------------------------------------------------------
        add(small47(Variant.DENSE, "transformer-rope-45m").positionEncoding(PositionEncoding.ROPE).context(512)
                .memoryBlocks(0).heads(10).dHead(41).dFF(2053), "Transformer with RoPE ~45M (RoPE table)");
        add(small47(Variant.DENSE, "transformer-rope-45m-h2").positionEncoding(PositionEncoding.ROPE).context(512)
                .memoryBlocks(0).heads(2).dHead(205).dFF(2053), "Transformer with RoPE ~45M, 2 heads (RoPE table)");
        add(small47(Variant.SWITCHHEAD, "switchhead-rope-45m").positionEncoding(PositionEncoding.ROPE).context(512)
                .memoryBlocks(0).heads(2).dHead(64).experts(5, 3).dFF(2092),
                "SwitchHead with RoPE ~45M (sweep wikitext103_moeatt_rope_matched_k3)");
        add(big262(Variant.DENSE, "transformer-rope-244m").positionEncoding(PositionEncoding.ROPE).context(1024)
                .memoryBlocks(0).heads(16).dHead(64).dFF(4110), "Transformer with RoPE 244M (RoPE table)");
        add(big262(Variant.DENSE, "transformer-rope-244m-h2").positionEncoding(PositionEncoding.ROPE).context(1024)
                .memoryBlocks(0).heads(2).dHead(512).dFF(4110), "Transformer with RoPE 244M, 2 heads (RoPE table)");
        add(big262(Variant.SWITCHHEAD, "switchhead-rope-243m").positionEncoding(PositionEncoding.ROPE).context(1024)
                .memoryBlocks(0).heads(4).dHead(100).experts(4, 2).dFF(4136),
                "SwitchHead with RoPE 243M (sweep wikitext103_moeatt_big_h4_matched_k2_rope)");

        // ---- Enwik8 (characters): L=12, d=512, T=512 with one memory block, dropout 0.1 -----------
        add(enwik8(Variant.DENSE, "xl-enwik8-41m").heads(8).dHead(64).dFF(2053), "Transformer-XL Enwik8 41M");
        add(enwik8(Variant.DENSE, "xl-enwik8-41m-h2").heads(2).dHead(256).dFF(2053),
                "Transformer-XL Enwik8 41M, 2 heads");
        add(enwik8(Variant.SWITCHHEAD, "switchhead-enwik8-41m").heads(2).dHead(112).experts(4, 2).dFF(2088),
                "SwitchHead Enwik8 41M");

        // ---- small models for CPU runs (vocabulary set by the data at run time) -------------------
        add(cpuSmall(Variant.DENSE, "dense-small").heads(4).dHead(32).dFF(512),
                "CPU-sized Transformer-XL: 4 layers, d=128, 4 heads");
        add(cpuSmall(Variant.SWITCHHEAD, "switchhead-small").heads(2).dHead(32).experts(4, 2).dFF(512),
                "CPU-sized SwitchHead: 4 layers, d=128, H=2 E=4 k=2");
        add(cpuSmall(Variant.MOA, "moa-small").heads(2).dHead(32).experts(8, 2).selection(Selection.SOFTMAX)
                .dFF(512), "CPU-sized MoA: 4 layers, d=128, E=8 k=2, softmax gate");
        add(cpuSmall(Variant.SWITCHALL, "switchall-small").heads(2).dHead(32).experts(4, 2).sigmaMoe(8, 64, 2)
                .ffEntropyRegularization(1e-4), "CPU-sized SwitchAll: 4 layers, d=128, sigma-MoE 8x64 K=2");
        add(cpuSmall(Variant.SIGMA_MOE, "sigma-moe-small").heads(4).dHead(32).sigmaMoe(8, 64, 2)
                .ffEntropyRegularization(1e-4), "CPU-sized sigma-MoE: 4 layers, d=128, dense attention, 8x64 K=2");
    }

    private ConfigCatalog() {
    }

    private static ModelConfig.Builder small47(Variant v, String name) {
        return ModelConfig.builder(name, v).layers(16).dModel(412).context(256).memoryBlocks(1).dropout(0.1);
    }

    private static ModelConfig.Builder big262(Variant v, String name) {
        return ModelConfig.builder(name, v).layers(18).dModel(1024).context(512).memoryBlocks(1).dropout(0.2);
    }

    /** Character-level: the vocabulary is the byte alphabet (the runs' exact alphabet size is not in the spec). */
    private static ModelConfig.Builder enwik8(Variant v, String name) {
        return ModelConfig.builder(name, v).layers(12).dModel(512).context(512).memoryBlocks(1).dropout(0.1)
                .vocabSize(256);
    }

    private static ModelConfig.Builder cpuSmall(Variant v, String name) {
        return ModelConfig.builder(name, v).layers(4).dModel(128).context(64).memoryBlocks(1).dropout(0.1)
                .vocabSize(256);
    }

    private static void add(ModelConfig.Builder b, String description) {
        ModelConfig c = b.build();
        ENTRIES.put(c.name(), new Entry(c, description));
    }

    static ModelConfig get(String name) {
        Entry e = ENTRIES.get(name);
        if (e == null) {
            throw new IllegalArgumentException("unknown model '" + name + "'; known: " + String.join(", ", names()));
        }
        return e.config();
    }

    static List<String> names() {
        return new ArrayList<>(ENTRIES.keySet());
    }

    static String description(String name) {
        get(name);
        return ENTRIES.get(name).description();
    }
}
