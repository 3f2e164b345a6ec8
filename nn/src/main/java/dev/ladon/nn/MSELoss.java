package dev.ladon.nn;

import dev.ladon.autograd.Functional;
import dev.ladon.autograd.Variable;
import dev.ladon.tensor.Shape;
import java.util.Arrays;

/** Mean squared error over all elements of two same-shaped values. */
public final class MSELoss extends Module {
    public Variable forward(Variable prediction, Variable target) {
        if (!Arrays.equals(prediction.shape(), target.shape())) {
            throw new IllegalArgumentException("MSELoss.forward: shapes differ: " + Shape.str(prediction.shape()) + " and "
                    + Shape.str(target.shape()));
        }
        return Functional.mse(prediction, target);
    }
}
