export { parseRfc3339Nano, rfc3339ToNanos } from './time';
export { readLog, DEFAULT_LOG_MAX_FILES, DEFAULT_LOG_MAX_SIZE, MAX_RECORD_CONTENT, type LogEntry, type LogStream, type ReadLogOptions } from './read';
export { LogWriter, checkLogBounds, lastLogRecords, type LogWriterOptions } from './write';
export { logBounds, LOG_DRIVERS, type LogBounds } from './options';
