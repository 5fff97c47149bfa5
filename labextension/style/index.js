import './base.css';
import './pipelines.css';
import './models.css';
import './monitoring.css';
import './ct.css';
