/**
 * Checkpoints: {@link dev.ladon.nn.io.SafeTensors} reads and writes the safetensors format that PyTorch
 * uses, {@link dev.ladon.nn.io.AtomicFile} makes every save all-or-nothing, and
 * {@link dev.ladon.nn.io.CheckpointLayout} checks loaded tensors against a model before copying them in.
 */
package dev.ladon.nn.io;
