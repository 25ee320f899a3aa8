import type { FlowDefinition } from "../../runtime/runs/flow-definition.js";
import { SOURCING_STAGES } from "./graph/index.js";
import { Sourcing } from "./run/flow.js";

/** Deal sourcing in the registry: a runner per stage (`sourcing.<stage>`), fed by the event bus. */
export const sourcingFlow: FlowDefinition<Sourcing> = {
  name: "sourcing",
  agents: SOURCING_STAGES.map((s) => s.name),
  open(deps) {
    const sourcing = new Sourcing(deps);
    return { handle: sourcing, runners: [...sourcing.stages] };
  },
};
