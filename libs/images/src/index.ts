// @berth/images
export {};
