// Every service module berthd can host, by name. Each comes from its
// service lib; berthd only composes them.
import type { ServiceModule, ServiceName } from '@berth/kit';

export const MODULES: Partial<Record<ServiceName, () => ServiceModule>> = {};
