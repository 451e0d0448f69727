// @berth/engine
export {};
