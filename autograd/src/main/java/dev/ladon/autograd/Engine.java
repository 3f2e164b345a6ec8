package dev.ladon.autograd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reverse-mode differentiation over a recorded graph. Nodes are visited in reverse topological order, so
 * a node runs once, after every node that uses its output has sent it a gradient; gradients arriving from
 * several users are summed. That is the whole algorithm (micrograd's, and PyTorch's engine without threads).
 */
final class Engine {
    private Engine() {
    }

    /**
     * Propagates {@code rootGrad} from {@code root} back to the leaves.
     *
     * @param capture null to accumulate into the leaves' {@code grad}; otherwise the nodes whose incoming
     *                gradient is returned instead, and no leaf is touched (that is {@link Autograd#grad})
     * @return the total gradient reaching each captured node (absent when none reached it)
     */
    static Map<Node, Variable> run(Node root, Variable rootGrad, boolean retainGraph, boolean createGraph,
            Set<Node> capture) {
        Map<Node, Variable> pending = new IdentityHashMap<>();
        Map<Node, Variable> captured = new IdentityHashMap<>();
        GradientMemory memory = new GradientMemory(createGraph);
        pending.put(root, rootGrad);
        memory.pending(rootGrad);
        // With createGraph the gradient formulas themselves are recorded, so gradients can be differentiated.
        try (var mode = GradMode.set(createGraph)) {
            for (Node node : topologicalOrder(root)) {
                Variable grad = pending.remove(node);
                if (grad == null) {
                    // No gradient flows here (an input nothing depended on, or a formula returned null).
                    if (!retainGraph) {
                        node.release();
                    }
                    continue;
                }
                Variable received = grad;
                if (node.hasHooks()) {
                    memory.escaped(received);
                    grad = node.runHooks(grad);
                    memory.escaped(grad);
                }
                if (capture != null && capture.contains(node)) {
                    captured.put(node, grad);
                    memory.escaped(grad);
                }
                if (node.leaf != null) {
                    if (capture == null) {
                        node.leaf.accumulateGrad(grad.data());
                    }
                    memory.consumed(received);
                    continue;
                }
                Variable[] inputGrads = node.apply(grad);
                if (!retainGraph) {
                    node.release();
                }
                for (int i = 0; i < node.next.length; i++) {
                    if (node.next[i] != null && inputGrads[i] != null) {
                        Variable earlier = pending.get(node.next[i]);
                        Variable sum = earlier == null ? inputGrads[i] : earlier.add(inputGrads[i]);
                        pending.put(node.next[i], sum);
                        memory.pending(sum);
                        if (earlier != null) {
                            memory.summed(earlier, inputGrads[i]);
                        }
                    }
                }
                // Only now: a formula may have passed its incoming gradient on to an input.
                memory.consumed(received);
            }
        }
        return captured;
    }

    /** Every node reachable from root, each before all the nodes its output feeds (root first). */
    static List<Node> topologicalOrder(Node root) {
        List<Node> postOrder = new ArrayList<>();
        Set<Node> visited = Collections.newSetFromMap(new IdentityHashMap<>());
        // Iterative depth-first search: stack entries are (node, index of the next input to visit), so a
        // graph thousands of ops deep does not overflow the Java stack.
        Deque<Node> nodes = new ArrayDeque<>();
        Deque<int[]> positions = new ArrayDeque<>();
        visited.add(root);
        nodes.push(root);
        positions.push(new int[] {0});
        while (!nodes.isEmpty()) {
            Node node = nodes.peek();
            int[] position = positions.peek();
            if (position[0] < node.next.length) {
                Node child = node.next[position[0]++];
                if (child != null && visited.add(child)) {
                    nodes.push(child);
                    positions.push(new int[] {0});
                }
            } else {
                postOrder.add(node);
                nodes.pop();
                positions.pop();
            }
        }
        Collections.reverse(postOrder);
        return postOrder;
    }
}
