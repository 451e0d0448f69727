// @berth/namespaces
export {};
