package dev.ladon.nn.io;

import dev.ladon.tensor.Shape;
import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Checks that loaded tensors fit a model before any of them is copied in, the way PyTorch's
 * {@code load_state_dict(strict=True)} does, but reporting every problem at once.
 */
public final class CheckpointLayout {
    private CheckpointLayout() {
    }

    /**
     * Requires {@code loaded} to hold exactly the names of {@code expected}, each with the same shape and
     * dtype. Values and devices are not compared.
     *
     * @param expected the model's tensors (its state dict), by name
     * @param loaded   tensors read from a checkpoint, e.g. by {@link SafeTensors#load}
     * @throws IllegalArgumentException listing, in one message, every missing name, every unexpected name, and
     *     every name whose shape or dtype differs (with both values)
     */
    public static void requireMatch(Map<String, Tensor> expected, Map<String, Tensor> loaded) {
        List<String> missing = new ArrayList<>();
        List<String> mismatched = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            Tensor got = loaded.get(e.getKey());
            if (got == null) {
                missing.add(e.getKey());
                continue;
            }
            Tensor want = e.getValue();
            if (!Arrays.equals(want.shape(), got.shape())) {
                mismatched.add(e.getKey() + ": shape " + Shape.str(got.shape()) + ", expected "
                        + Shape.str(want.shape()));
            }
            if (want.dtype() != got.dtype()) {
                mismatched.add(e.getKey() + ": dtype " + got.dtype() + ", expected " + want.dtype());
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String name : loaded.keySet()) {
            if (!expected.containsKey(name)) {
                unexpected.add(name);
            }
        }
        if (missing.isEmpty() && unexpected.isEmpty() && mismatched.isEmpty()) {
            return;
        }
        StringBuilder sb = new StringBuilder("checkpoint does not match the model:");
        if (!missing.isEmpty()) {
            sb.append("\n  missing (").append(missing.size()).append("): ").append(String.join(", ", missing));
        }
        if (!unexpected.isEmpty()) {
            sb.append("\n  unexpected (").append(unexpected.size()).append("): ")
                    .append(String.join(", ", unexpected));
        }
        for (String m : mismatched) {
            sb.append("\n  mismatched ").append(m);
        }
        throw new IllegalArgumentException(sb.toString());
    }
}
