// @berth/networks
export {};
