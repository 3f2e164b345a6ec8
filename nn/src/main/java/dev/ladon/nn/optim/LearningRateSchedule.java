package dev.ladon.nn.optim;

/**
 * The learning rate as a function of the 0-based step about to be taken. A training loop calls
 * {@code optimizer.setLearningRate(schedule.at(step))} before each {@link Optimizer#step()}.
 */
@FunctionalInterface
public interface LearningRateSchedule {
    double at(long step);

    /** The same rate at every step. */
    static LearningRateSchedule constant(double lr) {
        return step -> lr;
    }

    /** Rises linearly over {@code warmupSteps} steps (lr (step + 1) / warmup), then stays at lr. */
    static LearningRateSchedule linearWarmup(double lr, long warmupSteps) {
        return cosine(lr, warmupSteps, 0, lr);
    }

    /**
     * Linear warm-up over {@code warmupSteps}, then a half cosine from lr down to minLr over
     * {@code decaySteps} steps (PyTorch's CosineAnnealingLR with T_max = decaySteps, stepped with
     * step - warmup, as the SwitchHead runs), then minLr. With no decay steps there is no cosine to follow:
     * lr holds after the warm-up (which is what {@link #linearWarmup} is).
     */
    static LearningRateSchedule cosine(double lr, long warmupSteps, long decaySteps, double minLr) {
        if (!(lr >= 0) || !(minLr >= 0) || warmupSteps < 0 || decaySteps < 0) {
            throw new IllegalArgumentException("cosine schedule: need lr, minLr >= 0 and step counts >= 0, got lr=" + lr
                    + " minLr=" + minLr + " warmup=" + warmupSteps + " decay=" + decaySteps);
        }
        return step -> {
            if (step < warmupSteps) {
                return lr * (step + 1) / warmupSteps;
            }
            long t = step - warmupSteps;
            if (t >= decaySteps) {
                return decaySteps == 0 ? lr : minLr;
            }
            return minLr + (lr - minLr) * (1 + Math.cos(Math.PI * t / decaySteps)) / 2;
        };
    }
}
