// @berth/cli-kit
export {};
