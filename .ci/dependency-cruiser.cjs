// Import rules for src/, checked by dependency-cruiser from .ci/test. Layers, lowest first:
// core ← wire ← transport ← node ← serf ← http ← agent ← cli, with sim beside node. A folder may
// import only its own files and the layers below it. Type-only and dynamic imports count.

/** A rule forbidding imports from `folder` into any src/ folder outside `allowed`. */
function layer(folder, allowed) {
  return {
    name: `layer-${folder}`,
    comment: `src/${folder}/ may import only from src/{${allowed.join(",")}}/.`,
    severity: "error",
    from: { path: `^src/${folder}/` },
    to: { path: `^src/(?!(?:${allowed.join("|")})/)` },
  };
}

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "No import cycle between files.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      comment: "Every import resolves (an unresolved one would hide an edge from these rules).",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
    layer("core", ["core"]),
    layer("wire", ["core", "wire"]),
    layer("transport", ["core", "wire", "transport"]),
    layer("node", ["core", "wire", "transport", "node"]),
    layer("sim", ["core", "wire", "transport", "sim"]),
    layer("serf", ["core", "wire", "transport", "node", "serf"]),
    layer("http", ["core", "wire", "transport", "node", "sim", "serf", "http"]),
    layer("agent", ["core", "wire", "transport", "node", "sim", "serf", "http", "agent"]),
    layer("cli", ["core", "wire", "transport", "node", "sim", "serf", "http", "agent", "cli"]),
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
  },
};
