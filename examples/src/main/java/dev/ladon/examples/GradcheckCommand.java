package dev.ladon.examples;

import dev.ladon.autograd.gradcheck.GradcheckCase;
import dev.ladon.autograd.gradcheck.GradcheckSuite;
import dev.ladon.tensor.Device;
import java.io.File;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceConfigurationError;

/**
 * Runs the gradient-check suite: every {@code GradcheckCase} that a {@code GradcheckCaseProvider} on the
 * class path registers (autograd's ops, nn's layers, moe's layers, and any extra jars given), built on the
 * device asked for.
 */
final class GradcheckCommand implements Command {
    @Override
    public String name() {
        return "gradcheck";
    }

    @Override
    public String summary() {
        return "check every registered op and layer gradient against finite differences";
    }

    @Override
    public String help() {
        return """
                usage: bin/ladon gradcheck [--device D] [--filter TEXT] [--classpath PATHS] [--list]
                  Runs every gradient-check case registered through GradcheckCaseProvider (ServiceLoader), in
                  float64, and prints a line naming the device, one PASS/FAIL line per case, then
                  'N passed, M failed'. Exit code 1 if any failed.
                  --device D         cpu, cuda or cuda:N (default cpu): inputs, modules and the constants the
                                     cases use are built there, so every op runs on that device's kernels
                  --filter TEXT      only cases whose name contains TEXT (default: all)
                  --classpath PATHS  extra jars or class folders, separated by ':', holding your own providers
                                     (listed in META-INF/services/dev.ladon.autograd.gradcheck.GradcheckCaseProvider)
                  --list             print the case names and the ops they cover, run nothing""";
    }

    @Override
    public int run(String[] args) throws Exception {
        Options options = new Options(args, "device", "filter", "classpath", "list!");
        Device device = options.device();
        ClassLoader loader = GradcheckCommand.class.getClassLoader();
        if (options.has("classpath")) {
            List<URL> urls = new ArrayList<>();
            for (String path : options.get("classpath", "").split(File.pathSeparator)) {
                File f = new File(path);
                if (!f.exists()) {
                    throw new IllegalArgumentException("--classpath: " + path + " does not exist");
                }
                urls.add(f.toURI().toURL());
            }
            loader = new URLClassLoader(urls.toArray(URL[]::new), loader);
        }
        String filter = options.get("filter", "");
        List<GradcheckCase> all;
        try {
            all = GradcheckSuite.load(loader, device);
        } catch (ServiceConfigurationError e) {
            // A services file naming a class that is not there (or cannot be made): the jar is broken.
            throw new IOException("a gradient-check provider could not be loaded: " + e.getMessage(), e);
        }
        List<GradcheckCase> cases = all.stream().filter(c -> c.name().contains(filter)).toList();
        if (cases.isEmpty()) {
            throw new IllegalArgumentException("--filter '" + filter + "' matches none of the " + all.size()
                    + " cases (bin/ladon gradcheck --list names them)");
        }
        if (options.flag("list")) {
            for (GradcheckCase c : cases) {
                System.out.println(c.name() + "  covers " + String.join(", ", c.covers())
                        + (c.secondOrder() ? "  (+ second order)" : ""));
            }
            System.out.println(cases.size() + " cases on " + device);
            return 0;
        }
        System.out.println("gradcheck in float64 on " + device);
        GradcheckSuite.Summary summary = GradcheckSuite.run(cases, System.out);
        return summary.failed() == 0 ? 0 : 1;
    }
}
