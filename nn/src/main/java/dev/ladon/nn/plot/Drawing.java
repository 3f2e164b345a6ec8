package dev.ladon.nn.plot;

/**
 * Whether this Java runtime can draw. Plots need its java.desktop module, which a runtime image made with
 * jlink may leave out (the one packed for the GPU machine, for example). This class stands apart from the
 * classes that draw, such as {@link LinePlot}: without java.desktop those cannot even be loaded, so a caller
 * asks here first and skips its pictures.
 */
public final class Drawing {
    private Drawing() {
    }

    public static boolean available() {
        return ModuleLayer.boot().findModule("java.desktop").isPresent();
    }
}
