/** {@link dev.ladon.nn.plot.LinePlot}: PNG line charts of training curves, drawn with Java2D, no display needed. */
package dev.ladon.nn.plot;
