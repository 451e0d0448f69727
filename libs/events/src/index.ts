// @berth/events: lifecycle events on NATS as CloudEvents, kept in JetStream
// for replay. Publishing never blocks or fails an operation.
export { subjects, EVENTS_STREAM, ALL_SUBJECTS, isBerthSubject, type ContainerAction, type ImageAction, type VolumeAction } from './subjects';
export { makeCloudEvent, natsSubjectOf, type CloudEvent } from './cloudevent';
export { EventPublisher, ensureEventsStream, type PublisherOptions, type RetentionOptions } from './publisher';
export { subscribeEvents, type SubscribeOptions } from './subscriber';
export { natsFromEnv, natsConnectOptions, parseNatsUrls, natsTokenPath, probeNatsAuth, DEFAULT_NATS_URL, type NatsAuth, type NatsTarget } from './connection';
export { startNatsServer, freePort, waitForEventsStream, type NatsServerHandle } from './testing';
