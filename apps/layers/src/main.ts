// @berth/layers
export {};
