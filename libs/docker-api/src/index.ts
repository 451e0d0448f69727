// @berth/docker-api: the Docker Engine API gateway. It decodes Docker's REST
// API (moby api/docs/v1.41.yaml) into the requests the berth CLI builds,
// calls the engine, images and networks contracts, and encodes the answers
// as Docker does, so the docker CLI, compose, docker-py, dockerode and
// testcontainers drive berth unchanged (docs/design/docker-api.md).
export { dockerApiModule } from './service';
export { DockerGateway, type GatewayOptions, type TlsFiles } from './gateway';
export { API_VERSION, MIN_API_VERSION } from './http';
export { decodeCreate, AUTO_REMOVE_LABEL } from './create';
export { muxFrame } from './streams';
