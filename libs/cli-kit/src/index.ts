// @berth/cli-kit: the berth CLI's input and output logic (Docker-compatible
// flag parsing, command tree, tables, Go-template formats, human units,
// progress rendering, exit codes), testable without a daemon.
export * from './command';
export * from './units';
export * from './opts';
export * from './run-request';
export * from './template';
export * from './table';
export * from './format';
export * from './display';
export * from './terminal';
export * from './progress';
export * from './exit-codes';
export * from './commands';
export * from './requests';
export * from './history';
