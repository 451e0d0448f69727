// @berth/cgroups
export {};
