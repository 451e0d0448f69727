// @berth/runtime
export {};
