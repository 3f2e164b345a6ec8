package dev.ladon.examples;

import dev.ladon.moe.ModelConfig;
import dev.ladon.moe.ModelConfig.PositionEncoding;
import dev.ladon.moe.ModelConfig.Projection;
import dev.ladon.moe.ModelConfig.Variant;
import dev.ladon.moe.accounting.AttentionCost;
import dev.ladon.moe.accounting.CountFormat;
import dev.ladon.moe.accounting.ParameterCount;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code bin/ladon stats}: parameters and the attention layer's MACs and memory of a named configuration,
 * optionally changed by options, or the papers' tables with {@code --all}.
 */
final class StatsCommand implements Command {
    /** The rows of the papers' tables, by section, in the order the spec lists them. */
    private static final List<Section> PAPER_TABLE = List.of(
            new Section("SwitchHead vs MoA vs Transformer-XL, Wikitext-103 (SwitchHead Table 1)",
                    List.of("moa-47m-k8", "moa-47m-k6", "switchhead-47m", "xl-47m", "moa-47m-k4", "moa-47m-k2",
                            "switchhead-262m", "xl-262m")),
            new Section("Per dataset: C4 / peS2o (47M k=3, 262M H=4), Enwik8",
                    List.of("xl-47m", "switchhead-47m-k3", "xl-47m-h2", "xl-262m", "switchhead-262m-h4",
                            "xl-262m-h4", "xl-262m-h2", "xl-enwik8-41m", "switchhead-enwik8-41m",
                            "xl-enwik8-41m-h2")),
            new Section("SwitchAll (sigma-MoE feedforward) and the sigma-MoE paper's models",
                    List.of("switchall-47m", "switchall-259m", "sigma-moe-47m", "sigma-moe-262m")),
            new Section("RoPE, no XL memory",
                    List.of("transformer-rope-45m", "switchhead-rope-45m", "transformer-rope-45m-h2",
                            "transformer-rope-244m", "switchhead-rope-243m", "transformer-rope-244m-h2")),
            new Section("Which projections are experts (47M, H=2, E=5, k=2)",
                    List.of("switchhead-47m-v", "switchhead-47m", "switchhead-47m-qo", "switchhead-47m-vok",
                            "switchhead-47m-qkvo")),
            new Section("Small models for CPU runs (vocabulary 256 here; set by the data at run time)",
                    List.of("dense-small", "switchhead-small", "moa-small", "switchall-small", "sigma-moe-small")));

    private record Section(String title, List<String> names) {
    }

    @Override
    public String name() {
        return "stats";
    }

    @Override
    public String summary() {
        return "parameters, attention MACs and memory of a model configuration (--all: the papers' tables)";
    }

    @Override
    public String help() {
        return """
                usage: bin/ladon stats --model NAME [overrides]   one configuration, with the formula's terms
                       bin/ladon stats --all                      the papers' tables
                       bin/ladon stats --list                     every configuration name

                MACs and memory are the SwitchHead authors' analytic counts for ONE attention layer and ONE
                sequence of T tokens (memory in floats); parameters count the whole model.

                overrides (default: the named configuration's value):
                  --layers L  --d-model d  --heads H  --d-head d_h  --experts E  --k k  --d-ff N
                  --context T  --memory-blocks cb  --vocab V  --position xl|rope
                  --projections LETTERS   SwitchHead expert projections, e.g. vo, qkvo
                  --ff-experts N_E  --ff-expert-size G  --ff-k K   sigma-MoE feedforward
                For MoA, --heads and --k are the same number (the selected experts).""";
    }

    @Override
    public int run(String[] args) {
        Options o = new Options(args, "model", "all!", "list!", "layers", "d-model", "heads", "d-head", "experts", "k",
                "d-ff", "context", "memory-blocks", "vocab", "position", "projections", "ff-experts",
                "ff-expert-size", "ff-k");
        if (o.flag("list")) {
            for (String n : ModelConfig.names()) {
                System.out.printf("%-26s %s%n", n, ModelConfig.description(n));
            }
            return 0;
        }
        if (o.flag("all")) {
            printPaperTable();
            return 0;
        }
        if (!o.has("model")) {
            throw new IllegalArgumentException("give --model NAME, --all or --list");
        }
        ModelConfig c = withOverrides(ModelConfig.named(o.get("model", null)), o);
        printOne(c, ModelConfig.description(o.get("model", null)));
        return 0;
    }

    /**
     * {@code base} with the override options present in {@code o} applied (see {@link #help}; only those the
     * caller's {@link Options} accept can be present), renamed to say what changed.
     */
    static ModelConfig withOverrides(ModelConfig base, Options o) {
        ModelConfig.Builder b = base.toBuilder();
        List<String> changed = new ArrayList<>();
        for (String opt : new String[] {"layers", "d-model", "heads", "d-head", "experts", "k", "d-ff", "context",
            "memory-blocks", "vocab", "position", "projections"}) {
            if (!o.has(opt)) {
                continue;
            }
            changed.add("--" + opt + " " + o.get(opt, null));
            switch (opt) {
                case "layers" -> b.layers(o.getInt(opt, 0));
                case "d-model" -> b.dModel(o.getInt(opt, 0));
                case "heads", "k" -> {
                    int v = o.getInt(opt, 0);
                    // MoA's heads are its selected experts: one number, two names.
                    if (base.variant() == Variant.MOA) {
                        b.heads(v).activeExperts(v);
                    } else if (opt.equals("heads")) {
                        b.heads(v);
                    } else {
                        b.activeExperts(v);
                    }
                }
                case "d-head" -> b.dHead(o.getInt(opt, 0));
                case "experts" -> b.experts(o.getInt(opt, 0));
                case "d-ff" -> b.dFF(o.getInt(opt, 0));
                case "context" -> b.context(o.getInt(opt, 0));
                case "memory-blocks" -> b.memoryBlocks(o.getInt(opt, 0));
                case "vocab" -> b.vocabSize(o.getInt(opt, 0));
                case "position" -> b.positionEncoding(parsePosition(o.get(opt, null)));
                case "projections" -> b.moeProjections(Projection.parseSet(o.get(opt, null)));
                default -> throw new IllegalStateException(opt);
            }
        }
        if (o.has("ff-experts") || o.has("ff-expert-size") || o.has("ff-k")) {
            if (!base.variant().expertFeedForward()) {
                throw new IllegalArgumentException("--ff-experts/--ff-expert-size/--ff-k need a sigma-MoE model, '"
                        + base.name() + "' is " + base.variant());
            }
            int ne = o.getInt("ff-experts", base.ffExperts());
            int g = o.getInt("ff-expert-size", base.ffExpertSize());
            int active = o.getInt("ff-k", base.ffActiveExperts());
            b.sigmaMoe(ne, g, active);
            changed.add("sigma-MoE " + ne + "x" + g + " K=" + active);
        }
        if (!changed.isEmpty()) {
            b.name(base.name() + " (changed: " + String.join(", ", changed) + ")");
        }
        return b.build();
    }

    private static PositionEncoding parsePosition(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "xl" -> PositionEncoding.XL;
            case "rope" -> PositionEncoding.ROPE;
            default -> throw new IllegalArgumentException("--position expects xl or rope, got '" + s + "'");
        };
    }

    private static void printOne(ModelConfig c, String description) {
        System.out.println("model " + c.name());
        System.out.println("  " + description);
        System.out.println("  " + shape(c));
        ParameterCount p = ParameterCount.of(c);
        System.out.printf("parameters %s (%s)%n", CountFormat.exact(p.total()), millions(p.total()));
        System.out.printf("  embedding   %15s%n", CountFormat.exact(p.embedding()));
        System.out.printf("  per layer   %15s = attention %s + feedforward %s + norms %s, x%d layers%n",
                CountFormat.exact(p.attentionPerLayer() + p.feedForwardPerLayer() + p.normsPerLayer()),
                CountFormat.exact(p.attentionPerLayer()), CountFormat.exact(p.feedForwardPerLayer()),
                CountFormat.exact(p.normsPerLayer()), p.layers());
        System.out.printf("  final norm  %15s%n", CountFormat.exact(p.finalNorm()));
        System.out.printf("  output      %15s%n", CountFormat.exact(p.output()));
        AttentionCost a;
        try {
            a = AttentionCost.of(c);
        } catch (IllegalArgumentException e) {
            System.out.println(e.getMessage()); // "attention cost of '<name>': why there is none"
            return;
        }
        System.out.println("attention, one layer, one sequence of T=" + c.context() + " tokens (" + a.inputs() + ")");
        System.out.printf("  MACs   %15s (%s), %s per token%n", CountFormat.exact(a.macs()),
                CountFormat.compact(a.macs()), perToken(a.macsPerToken()));
        for (AttentionCost.Term t : a.macTerms()) {
            System.out.printf("    %-22s %15s%n", t.expression(), CountFormat.exact(t.value()));
        }
        System.out.printf("  memory %15s floats (%s), %s per token%n", CountFormat.exact(a.memory()),
                CountFormat.compact(a.memory()), perToken(a.memoryPerToken()));
        for (AttentionCost.Term t : a.memoryTerms()) {
            System.out.printf("    %-22s %15s%n", t.expression(), CountFormat.exact(t.value()));
        }
    }

    private static String shape(ModelConfig c) {
        StringBuilder sb = new StringBuilder(c.variant() + " " + c.positionEncoding() + ": L=" + c.layers() + " d="
                + c.dModel() + " H=" + c.heads() + " d_h=" + c.dHead());
        if (c.variant().expertAttention()) {
            sb.append(" E=").append(c.experts()).append(" k=").append(c.activeExperts());
            if (c.variant().switchHeadAttention()) {
                sb.append(" experts=").append(letters(c));
            }
            sb.append(" gate=").append(c.selection().name().toLowerCase(Locale.ROOT));
        }
        if (c.variant().expertFeedForward()) {
            sb.append(" sigma-MoE N_E=").append(c.ffExperts()).append(" G=").append(c.ffExpertSize()).append(" K=")
                    .append(c.ffActiveExperts());
        } else {
            sb.append(" d_ff=").append(c.dFF());
        }
        sb.append(" T=").append(c.context()).append(" memory blocks=").append(c.memoryBlocks()).append(" vocab=")
                .append(c.vocabSize()).append(" dropout=").append(c.dropout());
        return sb.toString();
    }

    private static String letters(ModelConfig c) {
        StringBuilder sb = new StringBuilder();
        c.moeProjections().forEach(p -> sb.append(p.name()));
        return sb.toString();
    }

    private static void printPaperTable() {
        String format = "%-24s %-10s %-4s %3s %3s %3s %4s %5s %3s %9s %7s %6s %15s %12s%n";
        System.out.println("Attention MACs / memory: one attention layer, one sequence (the authors' formula); "
                + "params: the whole model (vocab 8000 unless noted).");
        for (Section s : PAPER_TABLE) {
            System.out.println();
            System.out.println("== " + s.title());
            System.out.printf(format, "model", "variant", "pos", "H", "E", "k", "d_h", "T", "cb", "#params", "MACs",
                    "Mem", "MACs (exact)", "Mem (exact)");
            for (String name : s.names()) {
                ModelConfig c = ModelConfig.named(name);
                AttentionCost a = AttentionCost.of(c);
                System.out.printf(format, name, c.variant().name().toLowerCase(Locale.ROOT),
                        c.positionEncoding().name().toLowerCase(Locale.ROOT), c.heads(),
                        c.variant().expertAttention() ? c.experts() : "-",
                        c.variant().expertAttention() ? c.activeExperts() : "-", c.dHead(), c.context(),
                        c.memoryBlocks(), millions(ParameterCount.of(c).total()), CountFormat.compact(a.macs()),
                        CountFormat.compact(a.memory()), CountFormat.exact(a.macs()), CountFormat.exact(a.memory()));
            }
        }
    }

    private static String millions(long v) {
        return String.format(Locale.ROOT, "%.2fM", v / 1e6);
    }

    private static String perToken(double v) {
        return String.format(Locale.ROOT, "%,.1f", v);
    }
}
