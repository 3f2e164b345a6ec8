/**
 * Analytic accounting of the models in {@link dev.ladon.moe.ModelConfig}: parameter counts from weight
 * shapes ({@link dev.ladon.moe.accounting.ParameterCount}) and the attention layer's MACs and activation
 * memory exactly as the SwitchHead authors compute them ({@link dev.ladon.moe.accounting.AttentionCost}),
 * written the way their tables write them ({@link dev.ladon.moe.accounting.CountFormat}). Pure arithmetic:
 * no tensors are built.
 */
package dev.ladon.moe.accounting;
