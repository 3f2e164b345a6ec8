package dev.ladon.autograd;

import dev.ladon.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * What one application of a {@link Function} keeps between its forward and its backward (the
 * {@code ctx} of {@code torch.autograd.Function}). Tensors saved here are version-checked: changing one
 * in place before backward makes backward fail, naming the function. They are released after backward
 * unless the graph is retained.
 */
public final class FunctionContext {
    private final boolean[] needsInputGrad;
    private final boolean recording;
    private final List<Tensor> toSave = new ArrayList<>();
    private Tensor[] saved;

    FunctionContext(boolean[] needsInputGrad, boolean recording) {
        this.needsInputGrad = needsInputGrad;
        this.recording = recording;
    }

    /** Keeps tensors for backward (inputs, outputs or intermediates, in any order; nulls allowed). */
    public void saveForBackward(Tensor... tensors) {
        if (!recording) {
            return; // nothing will run backward: keep nothing alive
        }
        for (Tensor t : tensors) {
            toSave.add(t);
        }
    }

    /** In backward: the tensors saved in forward, in the order they were saved. */
    public Tensor[] savedTensors() {
        if (saved == null) {
            throw new IllegalStateException("savedTensors: only available inside backward");
        }
        return saved.clone();
    }

    /** Whether input i needs a gradient (backward may return null for inputs that do not). */
    public boolean needsInputGrad(int i) {
        return needsInputGrad[i];
    }

    Variable[] savedForNode() {
        Variable[] out = new Variable[toSave.size()];
        for (int i = 0; i < out.length; i++) {
            Tensor t = toSave.get(i);
            out[i] = t == null ? null : Variable.constant(t);
        }
        toSave.clear();
        return out;
    }

    void enterBackward(Variable[] unpacked) {
        saved = new Tensor[unpacked.length];
        for (int i = 0; i < unpacked.length; i++) {
            saved[i] = unpacked[i] == null ? null : unpacked[i].data();
        }
    }

    void exitBackward() {
        saved = null;
    }
}
