// The plotly.js bundle ships no types; the few calls the charts make are typed in charts.ts.
declare module 'plotly.js-dist-min';
