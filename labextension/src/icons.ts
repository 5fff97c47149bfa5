import { LabIcon } from '@jupyterlab/ui-components';

/** A flask over a rising curve; `jp-icon3` lets the theme colour it. */
const MLOPS_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path fill-rule="evenodd" d="M8 2h8v2h-1.5v4.6l5.9 10.2A2.1 2.1 0 0 1 18.6 22H5.4a2.1 2.1 0 0 1-1.8-3.2L9.5 8.6V4H8V2zm3.5 2v5.1L8.9 13.6c1.9-.6 3.8.9 6.2.2l-2.6-4.7V4h-1z"/>
  </g>
</svg>`;

export const mlopsIcon = new LabIcon({
  name: 'jupyter-mlops:logo',
  svgstr: MLOPS_SVG
});
