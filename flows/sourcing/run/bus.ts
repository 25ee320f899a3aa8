import { checkEvent, splitType, type SourcingEvent, type SourcingEventType } from "../graph/index.js";
import { consumerQueue, type EventTypes } from "../../../runtime/queue/event-bus.js";

/** The flow the bus's refused events are dead letters of; its stages' runs are `sourcing.<stage>`. */
export const SOURCING = "sourcing";

/** The sourcing events as the bus checks them (flows/sourcing/graph/events.ts: their schemas). */
export const SOURCING_EVENT_TYPES: EventTypes<SourcingEvent> = {
  flow: SOURCING,
  check: checkEvent,
  split: (type) => splitType(type as SourcingEventType),
};

/** The queue a stage's deliveries wait in. */
export const stageQueue = (stage: string) => consumerQueue(SOURCING, stage);
