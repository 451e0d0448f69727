// The part of hpack.js (2.x, untyped) that uds-authority.ts uses: the HPACK decompressor.
declare module 'hpack.js' {
  interface Decompressor {
    write(chunk: Buffer): boolean;
    execute(cb?: (err: Error | null) => void): void;
    read(): { name: string; value: string; neverIndex: boolean } | null;
    updateTableSize(size: number): void;
    on(event: 'error', listener: (err: Error) => void): this;
    off(event: 'error', listener: (err: Error) => void): this;
  }
  const hpack: {
    decompressor: { create(options: { table: { maxSize: number } }): Decompressor };
  };
  export default hpack;
}
