declare module 'jstat' {
  interface JStatStatic {
    mean(xs: number[]): number;
    variance(xs: number[], sample?: boolean): number;
    stdev(xs: number[], sample?: boolean): number;
    percentile(xs: number[], k: number, exclusive?: boolean): number;
    studentt: { cdf(x: number, dof: number): number; inv(p: number, dof: number): number };
  }
  const jstat: { jStat: JStatStatic };
  export default jstat;
}
